"""skiffd's HTTP layer and system endpoints, checked with curl over the unix socket."""

import json
import signal
import subprocess
import time
from urllib.parse import quote

from daemon import CURL, skiffd  # noqa: F401  (fixture)

DOCKER_HEADERS = {"api-version": "1.47", "docker-experimental": "false", "ostype": "linux"}


def test_ping_get_answers_ok_with_api_version(skiffd):
    status, headers, body = skiffd.get("/_ping")
    assert (status, body) == (200, "OK")
    assert headers["api-version"] == "1.47"
    assert headers["builder-version"] == "1"
    assert headers["cache-control"].startswith("no-cache")
    assert headers["pragma"] == "no-cache"


def test_ping_head_has_the_headers_and_no_body(skiffd):
    res = skiffd.curl("/_ping", "-I")
    assert res.returncode == 0
    assert res.stdout.startswith("HTTP/1.1 200")
    assert "api-version: 1.47" in res.stdout.lower()
    assert not res.stdout.rstrip().endswith("OK")


def test_versioned_ping_answers_too(skiffd):
    assert skiffd.get("/v1.47/_ping")[0] == 200


def test_every_response_carries_dockers_headers(skiffd):
    for path in ("/_ping", "/version", "/no/such/path"):
        _, headers, _ = skiffd.get(path)
        for name, value in DOCKER_HEADERS.items():
            assert headers.get(name) == value, (path, name, headers)
        assert headers["server"].startswith("skiff/")


def test_version_with_and_without_prefix_agree(skiffd):
    s1, plain = skiffd.get_json("/version")
    s2, old = skiffd.get_json("/v1.24/version")
    assert s1 == s2 == 200
    assert plain == old


def test_version_has_dockers_shape(skiffd):
    _, v = skiffd.get_json("/version")
    assert v["ApiVersion"] == "1.47" and v["MinAPIVersion"] == "1.24"
    assert v["Os"] == "linux" and v["GoVersion"] == "n/a"
    assert v["Platform"]["Name"]
    engine = v["Components"][0]
    assert engine["Name"] == "Engine" and engine["Version"] == v["Version"]
    assert engine["Details"]["ApiVersion"] == "1.47"
    for key in ("Arch", "KernelVersion", "GitCommit", "BuildTime"):
        assert key in v


def test_too_old_api_version_is_refused_with_400(skiffd):
    status, body = skiffd.get_json("/v1.12/version")
    assert status == 400
    assert "too old" in body["message"] and "1.24" in body["message"]


def test_too_new_api_version_is_refused_with_400(skiffd):
    status, body = skiffd.get_json("/v1.99/version")
    assert status == 400
    assert "too new" in body["message"]


def test_unknown_path_gives_404_with_json_message(skiffd):
    status, headers, body = skiffd.get("/v1.47/no/such/thing")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "page not found"}


def test_known_path_with_wrong_method_is_not_found_like_dockerd(skiffd):
    status, body = skiffd.get_json("/version", "-X", "DELETE")
    assert (status, body) == (404, {"message": "page not found"})


def test_unknown_path_with_a_body_still_gets_its_answer(skiffd):
    status, body = skiffd.get_json("/no/such/thing", "-X", "POST", "-H",
                                   "Content-Type: application/json", "--data", '{"a": 1')
    assert status == 404 and body == {"message": "page not found"}


def test_one_connection_serves_several_requests(skiffd):
    cmd = [CURL, "-s", "--unix-socket", str(skiffd.sock), "-w", "%{num_connects} "]
    for path in ("/_ping", "/version", "/no/such/thing"):
        cmd += ["-o", "/dev/null", f"http://skiff{path}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    assert res.returncode == 0
    assert res.stdout.split() == ["1", "0", "0"]


def test_info_has_dockers_shape(skiffd):
    status, info = skiffd.get_json("/info")
    assert status == 200
    assert info["Driver"] == "overlay2"
    assert info["DockerRootDir"] == str(skiffd.data)
    assert info["OSType"] == "linux" and info["CgroupDriver"] == "cgroupfs"
    assert info["CgroupVersion"] in ("1", "2")
    assert info["DefaultRuntime"] == "skiff-oci" and "skiff-oci" in info["Runtimes"]
    assert info["Runtimes"]["skiff-oci"]["path"].endswith("/skiff-oci")
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert "name=seccomp,profile=builtin" in info["SecurityOptions"]
    assert info["NCPU"] >= 1 and info["MemTotal"] > 0
    assert info["Warnings"] == []
    assert info["ServerVersion"] and info["KernelVersion"] and info["Name"]
    for key in ("ID", "Containers", "ContainersRunning", "ContainersPaused",
                "ContainersStopped", "Images", "LoggingDriver", "Plugins", "RegistryConfig",
                "OperatingSystem", "Architecture", "SystemTime"):
        assert key in info, key


def test_info_id_is_stable(skiffd):
    assert skiffd.get_json("/info")[1]["ID"] == skiffd.get_json("/info")[1]["ID"]
    assert (skiffd.data / "engine-id").exists()


def reload_and_wait(skiffd):
    """SIGHUP makes skiffd publish docker's "daemon reload" event; returns the time before."""
    before = time.time()
    skiffd.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    return before


def events(skiffd, query):
    status, headers, body = skiffd.get(f"/events?{query}")
    assert status == 200, body
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_events_until_now_returns_the_history_and_ends(skiffd):
    before = reload_and_wait(skiffd)
    got = events(skiffd, f"since={int(before)}&until={time.time():.9f}")
    reloads = [e for e in got if e["Type"] == "daemon" and e["Action"] == "reload"]
    assert reloads, got
    e = reloads[-1]
    assert e["scope"] == "local" and e["Actor"]["ID"]
    assert e["timeNano"] // 1_000_000_000 == e["time"] >= int(before)


def test_events_filter_by_type(skiffd):
    before = reload_and_wait(skiffd)
    until = f"{time.time():.9f}"
    window = f"since={int(before)}&until={until}"
    assert events(skiffd, window + "&filters=" + quote('{"type":{"daemon":true}}'))
    assert events(skiffd, window + "&filters=" + quote('{"type":["container"]}')) == []


def test_events_since_after_the_event_excludes_it(skiffd):
    reload_and_wait(skiffd)
    after = time.time()
    assert events(skiffd, f"since={after:.9f}&until={time.time():.9f}") == []


def test_events_follow_streams_new_events(skiffd):
    follower = subprocess.Popen([CURL, "-sN", "--unix-socket", str(skiffd.sock),
                                 "http://skiff/events?filters=" + quote('{"type":["daemon"]}')],
                                stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        skiffd.send_signal(signal.SIGHUP)
        line = follower.stdout.readline()
        assert json.loads(line)["Action"] == "reload"
    finally:
        follower.kill()
        follower.wait()


def test_events_without_since_or_until_skip_the_history(skiffd):
    reload_and_wait(skiffd)
    follower = subprocess.Popen([CURL, "-sN", "--unix-socket", str(skiffd.sock),
                                 "http://skiff/events"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        skiffd.send_signal(signal.SIGHUP)
        first = json.loads(follower.stdout.readline())
        assert first["timeNano"] / 1e9 > time.time() - 0.3
    finally:
        follower.kill()
        follower.wait()


def test_events_with_malformed_filters_are_refused(skiffd):
    status, body = skiffd.get_json("/events?until=1&filters=%7Bnot-json")
    assert (status, body) == (400, {"message": "invalid filter"})


def test_events_with_malformed_timestamp_are_refused(skiffd):
    status, body = skiffd.get_json("/events?since=yesterday")
    assert status == 400 and "timestamp" in body["message"]


def test_malformed_json_body_is_refused_with_400(skiffd):
    status, body = skiffd.get_json("/v1.47/containers/create", "-X", "POST", "-H",
                                   "Content-Type: application/json",
                                   "--data", '{"Image": "busybox", oops}')
    assert (status, body) == (400, {"message": "invalid JSON: invalid character 'o' looking "
                                               "for beginning of object key string"})


def test_body_over_16_mib_is_refused_with_413(skiffd, tmp_path):
    big = tmp_path / "body.json"
    big.write_bytes(b" " * (17 << 20))
    for extra in ([], ["-H", "Transfer-Encoding: chunked"]):
        status, body = skiffd.get_json("/v1.47/containers/create", "-X", "POST", "-H",
                                       "Content-Type: application/json", *extra,
                                       "--data-binary", f"@{big}")
        assert status == 413 and "too large" in body["message"]
