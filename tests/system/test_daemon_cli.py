"""skiffd driven by the real docker CLI (28): the Server side of version and info, and
events."""

import signal
import subprocess
import time

from daemon import DOCKER, skiffd  # noqa: F401  (fixture)


def test_docker_version_shows_the_server_section(skiffd):
    res = skiffd.docker("version")
    assert res.returncode == 0, res.stderr
    server = res.stdout.split("Server:", 1)[1]
    assert "Engine:" in server
    assert "API version:      1.47 (minimum version 1.24)" in server
    assert "OS/Arch:          linux/" in server


def test_docker_negotiates_down_to_the_servers_api_version(skiffd):
    res = skiffd.docker("version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1.47", "1.47"]


def test_docker_info_works_and_shows_the_server_version(skiffd):
    res = skiffd.docker("info")
    assert res.returncode == 0, res.stderr
    assert "Server Version: " in res.stdout
    assert "Storage Driver: overlay2" in res.stdout
    assert "Default Runtime: skiff-oci" in res.stdout
    assert f"Docker Root Dir: {skiffd.data}" in res.stdout


def test_docker_info_format_reads_the_fields(skiffd):
    res = skiffd.docker("info", "--format", "{{.Driver}} {{.CgroupDriver}} {{.OSType}}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["overlay2", "cgroupfs", "linux"]


def test_docker_events_since_until_exits_zero(skiffd):
    res = skiffd.docker("events", "--since", "0", "--until", str(int(time.time())),
                        timeout=15)
    assert res.returncode == 0, res.stderr


def test_docker_events_shows_a_daemon_reload(skiffd):
    before = int(time.time())
    skiffd.send_signal(signal.SIGHUP)
    time.sleep(1.1)
    res = skiffd.docker("events", "--since", str(before), "--until", str(int(time.time())),
                        "--filter", "type=daemon", "--format", "{{.Type}} {{.Action}}",
                        timeout=15)
    assert res.returncode == 0, res.stderr
    assert "daemon reload" in res.stdout.splitlines()


def test_docker_events_follows_until_interrupted(skiffd):
    follower = subprocess.Popen([DOCKER, "events", "--filter", "type=daemon", "--format",
                                 "{{.Action}}"], env=skiffd.docker_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        skiffd.send_signal(signal.SIGHUP)
        assert follower.stdout.readline().strip() == "reload"
    finally:
        follower.kill()
        follower.wait()
